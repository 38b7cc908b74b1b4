/** TOML that points the server at a loopback fake model (no API key needed on loopback). */
export function fakeProviderToml(baseUrl: string, options: { type?: 'openai-compatible' | 'anthropic'; extra?: string; vision?: boolean } = {}): string {
  return [
    '[providers.fake]',
    `type = "${options.type ?? 'openai-compatible'}"`,
    `base_url = "${baseUrl}"`,
    'model = "fake-model"',
    'max_retry_s = 5',
    ...(options.vision ? ['supports_vision = true'] : []),
    '[model]',
    'default = "fake"',
    options.extra ?? '',
  ].join('\n');
}
