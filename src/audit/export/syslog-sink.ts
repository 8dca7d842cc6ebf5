import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { hostname as osHostname } from 'node:os';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ExportSink, SendOutcome } from './exporter.js';
import { severityOf, type ExportRecord } from './record.js';

/**
 * The structured-data id of the fields SIEM rules match on. 32473 is the example enterprise number of RFC 5612,
 * which RFC 5424 itself uses; receivers treat the element as opaque key/value pairs.
 */
export const SD_ID = 'keeptrusts@32473';
const BOM = '\u{feff}';
/** Above this a UDP datagram is likely dropped on the way; the body is replaced by a pointer to the event. */
const MAX_UDP_BYTES = 8_192;

export interface SyslogOptions {
  address: string;
  facility: number;
  appName: string;
  hostname: string;
  timeoutMs: number;
  ca?: string;
}

/** A PARAM-VALUE with `"`, `\` and `]` escaped (RFC 5424 section 6.3.3). */
function sdValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** One RFC 5424 message: header, a structured-data element of ids and the decision, then the record as JSON. */
export function syslogMessage(r: ExportRecord, o: Pick<SyslogOptions, 'facility' | 'appName' | 'hostname'>, procId = String(process.pid), body?: string): string {
  const e = r.event;
  const pri = o.facility * 8 + severityOf(e).syslog;
  // The event's own timestamp (microseconds, UTC) is already RFC 3339 as RFC 5424 wants it.
  const ts = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/.test(e.ts) ? e.ts : new Date().toISOString();
  const params: Array<[string, string | number | null]> = [
    ['event_id', r.event_id],
    ['chain', r.chain],
    ['seq', r.seq],
    ['request_id', e.request_id],
    ['verdict', e.verdict],
    ['reason_code', e.reason_code],
    ['status', e.status],
    ['developer', e.identity.developer],
    ['repository', e.identity.repository],
    ['model', e.model_requested],
  ];
  const sd = `[${SD_ID}${params.filter(([, v]) => v !== null && v !== '').map(([k, v]) => ` ${k}="${sdValue(String(v))}"`).join('')}]`;
  return `<${pri}>1 ${ts} ${o.hostname} ${o.appName} ${procId} decision ${sd} ${BOM}${body ?? JSON.stringify(r)}`;
}

/** Octet-counting framing (RFC 6587 section 3.4.1): the message length in bytes, a space, the message. */
export function octetFrame(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}

/**
 * Syslog over TCP or TLS (one connection, kept open, re-opened after an error) or UDP. A TCP collector sends no
 * acknowledgement: a batch counts as taken once the kernel accepted all of it, so a collector that dies with
 * data unread loses what it had not read; HTTPS or OTLP sinks, which answer per batch, do not have that gap.
 */
export class SyslogSink implements ExportSink {
  readonly type = 'syslog' as const;
  readonly target: string;
  private readonly protocol: 'tcp' | 'tls' | 'udp';
  private readonly host: string;
  private readonly port: number;
  private socket: Socket | undefined;
  private udp: UdpSocket | undefined;

  constructor(private readonly o: SyslogOptions) {
    const m = /^(tcp|tls|udp):\/\/(.+):(\d{1,5})$/.exec(o.address);
    if (!m) throw new Error(`syslog address ${o.address} must be tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT`);
    this.protocol = m[1] as 'tcp' | 'tls' | 'udp';
    this.host = m[2]!.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(m[3]);
    this.target = o.address;
  }

  async send(records: readonly ExportRecord[], signal: AbortSignal): Promise<SendOutcome> {
    if (this.protocol === 'udp') return this.sendUdp(records);
    const socket = await this.connected(signal);
    const data = Buffer.concat(records.map((r) => octetFrame(syslogMessage(r, this.o))));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`syslog write timed out after ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      // Stopping the gateway must not wait out a collector that stopped reading.
      const aborted = () => fail(new Error('stopped while writing to the syslog collector'));
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.off('error', fail);
        signal.removeEventListener('abort', aborted);
        this.drop();
        reject(err);
      };
      socket.once('error', fail);
      signal.addEventListener('abort', aborted, { once: true });
      socket.write(data, (err) => {
        if (err) return fail(err);
        clearTimeout(timer);
        socket.off('error', fail);
        signal.removeEventListener('abort', aborted);
        resolve();
      });
    });
    return { kind: 'ok' };
  }

  private connected(signal: AbortSignal): Promise<Socket> {
    const open = this.socket;
    if (open && !open.destroyed && open.writable && !open.readableEnded) return Promise.resolve(open);
    this.drop();
    return new Promise((resolve, reject) => {
      const opts = { host: this.host, port: this.port, signal };
      const socket =
        this.protocol === 'tls'
          ? tlsConnect({ ...opts, servername: this.host, ...(this.o.ca ? { ca: this.o.ca } : {}) })
          : netConnect(opts);
      const timer = setTimeout(() => socket.destroy(new Error(`connecting to ${this.target} timed out after ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      const ready = () => {
        clearTimeout(timer);
        socket.off('error', failed);
        // A collector closing its side means it reads no more: open a new connection for the next batch.
        socket.on('end', () => socket.destroy());
        socket.on('error', () => socket.destroy());
        socket.resume();
        this.socket = socket;
        resolve(socket);
      };
      const failed = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once(this.protocol === 'tls' ? 'secureConnect' : 'connect', ready);
      socket.once('error', failed);
    });
  }

  private async sendUdp(records: readonly ExportRecord[]): Promise<SendOutcome> {
    this.udp ??= createSocket(this.host.includes(':') ? 'udp6' : 'udp4').unref();
    for (const r of records) {
      let msg = Buffer.from(syslogMessage(r, this.o), 'utf8');
      if (msg.length > MAX_UDP_BYTES) msg = Buffer.from(syslogMessage(r, this.o, undefined, JSON.stringify({ event_id: r.event_id, chain: r.chain, seq: r.seq, truncated: true })), 'utf8');
      await new Promise<void>((resolve, reject) => this.udp!.send(msg, this.port, this.host, (err) => (err ? reject(err) : resolve())));
    }
    return { kind: 'ok' };
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.destroyed) await new Promise<void>((resolve) => s.end(resolve));
    this.udp?.close();
    this.udp = undefined;
  }
}

export function defaultHostname(): string {
  return osHostname().replace(/[^!-~]/g, '').slice(0, 255) || '-';
}
