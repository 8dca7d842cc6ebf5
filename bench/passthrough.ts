/**
 * The baseline the gateway is measured against: the thinnest correct proxy, node:http in front of an
 * undici Pool, streaming bodies both ways and dropping hop-by-hop headers. Usage: UPSTREAM=url PORT=n.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const upstream = process.env.UPSTREAM ?? 'http://127.0.0.1:18080';
const port = Number(process.env.PORT ?? 18090);
const pool = new Pool(upstream, { connections: 128 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'upgrade', 'te', 'trailer', 'proxy-connection']);

createServer((req, res) => {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  pool
    .request({ method: req.method as 'POST', path: req.url ?? '/', headers, body: req })
    .then((up) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
      res.writeHead(up.statusCode, out);
      up.body.pipe(res);
    })
    .catch(() => {
      res.statusCode = 502;
      res.end();
    });
}).listen(port, '127.0.0.1', () => process.stdout.write(`passthrough listening on ${port}\n`));
