/**
 * Whether a run of letters reads as words: identifiers (`newpassword`, `resetTokenValue`) are made of them,
 * generated secrets are not. The test is letter pairs: English words are made almost wholly of a few hundred
 * common pairs, random letters only about a third of the time.
 */

/**
 * The letter pairs that make up 97 % of the pairs inside words of this project's English docs (docs/*.md and
 * README.md at commit 992d10f; 242 of the 519 pairs seen), plus pairs of common code abbreviations
 * (`passwd`, `pwd`, `cfg`, `ctx`, `msg`, `tmp`, `tkn`, `jwt`, `db`). Concatenated, two letters each.
 */
const COMMON_PAIRS =
  'abacadafagaiakalamanaparasatauaybabeblbobrbubycacechcickclcocrcsctcucydadddedidodsdyeaecedeeefegeielemenepeqeresetevewexeyfafefffiflfofrftfugageghgigngogrgsguhahehihohrhtiaibicidieifigiliminioipirisitivjejskekiksktlaldlelilllolsltlulymambmdmemimompmsnancndnenfngninknlnnnonpnsntnvnyoaocodoeofogoiokolomonoooporosotouovowpapepiplpoppprpsptpuqurarcrdrergrirkrlrmrnrorrrsrtrurvrysascseshsiskslsospssstsutatctethtitltotptrtstttutyuaudueuguiulumunupurusutvaveviwawewhwiwnwowrwsxaxpxtypysyt' +
  'swwdpwcffgtxmgsgtmtkdbjwwtkn';

const COMMON = new Uint8Array(26 * 26);
for (let i = 0; i + 1 < COMMON_PAIRS.length; i += 2) {
  COMMON[(COMMON_PAIRS.charCodeAt(i) - 97) * 26 + (COMMON_PAIRS.charCodeAt(i + 1) - 97)] = 1;
}

/** Adds the letter pairs of lower-case `w` to `acc`: [pairs, common pairs]. */
export function countPairs(w: string, acc: [number, number]): void {
  for (let i = 1; i < w.length; i++) {
    const a = w.charCodeAt(i - 1) - 97;
    const b = w.charCodeAt(i) - 97;
    acc[0]++;
    if (a >= 0 && a <= 25 && b >= 0 && b <= 25 && COMMON[a * 26 + b] === 1) acc[1]++;
  }
}
