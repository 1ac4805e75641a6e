/**
 * A TCP link between an edge and central that a test or a benchmark can cut and restore: a loopback proxy to the
 * server's port. Cut, it refuses new connections and resets the open ones (as a WAN outage or a
 * stopped server look from the edge); restored, it listens on the same port again.
 */
import * as net from 'net';

export interface Link {
  /** The server's URL through the link (same credentials, the link's port). */
  readonly url: (serverUrl: string) => string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function openLink(target: string): Promise<Link> {
  const t = new URL(target);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(Number(t.port), t.hostname);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  };
  await listen();
  return {
    url: (serverUrl) => {
      const u = new URL(serverUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString().replace(/\/+$/, '');
    },
    cut,
    restore: async () => {
      if (!server) await listen();
    },
    close: cut,
  };
}
