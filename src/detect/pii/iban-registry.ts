/**
 * IBAN structure per country (SWIFT IBAN registry, and the countries using the format outside it): total length and BBAN format, where `n` is digits, `a`
 * uppercase letters and `c` alphanumerics. Only what is needed to reject look-alikes cheaply before the mod-97
 * check; the check digits themselves are validated separately.
 */
const REGISTRY: Record<string, string> = {
  AD: '24:4n4n12c', AE: '23:3n16n', AL: '28:8n16c', AT: '20:5n11n', AZ: '28:4a20c', BA: '20:3n3n8n2n',
  BE: '16:3n7n2n', BG: '22:4a4n2n8c', BH: '22:4a14c', BI: '27:5n5n11n2n', BR: '29:8n5n10n1a1c', BY: '28:4c4n16c',
  CH: '21:5n12c', CR: '22:4n14n', CY: '28:3n5n16c', CZ: '24:4n6n10n', DE: '22:8n10n', DJ: '27:5n5n11n2n',
  DK: '18:4n9n1n', DO: '28:4c20n', EE: '20:2n2n11n1n', EG: '29:4n4n17n', ES: '24:4n4n1n1n10n', FI: '18:3n11n',
  FK: '18:2a12n', FO: '18:4n9n1n', FR: '27:5n5n11c2n', GB: '22:4a6n8n', GE: '22:2a16n', GI: '23:4a15c',
  GL: '18:4n9n1n', GR: '27:3n4n16c', GT: '28:4c20c', HR: '21:7n10n', HU: '28:3n4n1n15n1n', IE: '22:4a6n8n',
  IL: '23:3n3n13n', IQ: '23:4a3n12n', IS: '26:4n2n6n10n', IT: '27:1a5n5n12c', JO: '30:4a4n18c', KW: '30:4a22c',
  KZ: '20:3n13c', LB: '28:4n20c', LC: '32:4a24c', LI: '21:5n12c', LT: '20:5n11n', LU: '20:3n13c',
  LV: '21:4a13c', LY: '25:3n3n15n', MC: '27:5n5n11c2n', MD: '24:2c18c', ME: '22:3n13n2n', MK: '19:3n10c2n',
  MN: '20:4n12n', MR: '27:5n5n11n2n', MT: '31:4a5n18c', MU: '30:4a2n2n12n3n3a', NI: '28:4a20n', NL: '18:4a10n',
  NO: '15:4n6n1n', OM: '23:3n16c', PK: '24:4a16c', PL: '28:8n16n', PS: '29:4a21c', PT: '25:4n4n11n2n',
  QA: '29:4a21c', RO: '24:4a16c', RS: '22:3n13n2n', RU: '33:9n5n15c', SA: '24:2n18c', SC: '31:4a2n2n16n3a',
  SD: '18:2n12n', SE: '24:3n16n1n', SI: '19:5n8n2n', SK: '24:4n6n10n', SM: '27:1a5n5n12c', SO: '23:4n3n12n',
  ST: '25:8n11n2n', SV: '28:4a20n', TL: '23:3n14n2n', TN: '24:2n3n13n2n', TR: '26:5n1n16c', UA: '29:6n19c',
  VA: '22:3n15n', VG: '24:4a16n', XK: '20:4n10n2n', YE: '30:4a4n18c', HN: '28:4a20n',
  // Countries using the IBAN format without (yet) being in the SWIFT registry: mostly the BCEAO / BEAC
  // currency zones of West and Central Africa, as banks there publish and validate them.
  AO: '25:21n', BF: '28:2c22n', BJ: '28:2c22n', CF: '27:23n', CG: '27:23n', CI: '28:1a23n', CM: '27:23n',
  CV: '25:21n', DZ: '26:22n', GA: '27:23n', GQ: '27:23n', GW: '25:2c19n', IR: '26:22n', KM: '27:23n',
  MA: '28:24n', MG: '27:23n', ML: '28:1a23n', MZ: '25:21n', NE: '28:2a22n', SN: '28:1a23n', TD: '27:23n',
  TG: '28:2a22n',
};

export interface IbanCountry {
  length: number;
  bban: RegExp;
}

const CLASS: Record<string, string> = { n: '\\d', a: '[A-Z]', c: '[A-Z0-9]' };

export const IBAN_COUNTRIES: ReadonlyMap<string, IbanCountry> = new Map(
  Object.entries(REGISTRY).map(([cc, spec]) => {
    const [len, fmt] = spec.split(':') as [string, string];
    const src = fmt.replace(/(\d+)([nac])/g, (_m, count: string, cls: string) => `${CLASS[cls]}{${count}}`);
    return [cc, { length: Number(len), bban: new RegExp(`^${src}$`) }];
  }),
);

/** Longest IBAN in the registry, without spaces. */
export const IBAN_MAX_LENGTH = Math.max(...[...IBAN_COUNTRIES.values()].map((c) => c.length));
