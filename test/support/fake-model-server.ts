import { startFakeOpenAI } from './fake-openai.js';
import { fakeProviderToml } from './fake-provider-config.js';
import { registerUser, startTestServer } from './server.js';

/** A server wired to a loopback fake OpenAI model, with one registered user: the usual chat/stream fixture. */
export async function startFakeModelServer(extraToml: string) {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${extraToml}` });
  const user = await registerUser(server.api);
  return {
    fake,
    server,
    user,
    newSession: async (): Promise<string> =>
      (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id,
    shutdown: async () => {
      await server.shutdown();
      await fake.close();
    },
  };
}
