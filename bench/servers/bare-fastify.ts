import Fastify from 'fastify';

/**
 * Baseline 1, the physical reference: a bare Fastify server that answers every request
 * with a fixed, pre-serialised SCIM response of the same size as Roster's answer to the
 * same scenario (set through PUT /__fixture before each scenario). It parses JSON bodies,
 * as any server must, and does nothing else: no auth, no database, no rendering.
 */
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
let fixture = { status: 200, body: '{}' };

app.removeAllContentTypeParsers();
app.addContentTypeParser(
  ['application/scim+json', 'application/json'],
  { parseAs: 'string' },
  (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch (error) {
      done(error as Error, undefined);
    }
  },
);

app.put('/__fixture', async (request) => {
  fixture = request.body as { status: number; body: string };
  return { ok: true };
});

app.all('/*', async (_request, reply) =>
  reply.code(fixture.status).type('application/scim+json; charset=utf-8').send(fixture.body),
);

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`bare-fastify listening on ${address}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
