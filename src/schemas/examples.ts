/** Values shared by the API reference's examples, so one example's ids match the next one's. */
export const EXAMPLE = {
  userId: '8d5f3a2e-1c4b-4e6f-9a7d-2b3c4d5e6f70',
  workspaceId: '5c1e9b7a-3d2f-4a6b-8c9d-0e1f2a3b4c5d',
  sessionId: '5f0c2a9e-8b7d-4e21-a7f3-1c9b2d4e6f80',
  runId: '0b9a4c1e-5d1e-4c47-9a55-2f7c0a3f8e11',
  messageId: '6e2d4c8a-0b1f-4d3e-9c5a-7f8e9d0c1b2a',
  artifactId: 'a7c3e5f1-2b4d-4f6a-8e0c-1d3b5f7a9c2e',
  fileId: 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b',
  email: 'ada@example.com',
  time: '2026-01-15T09:30:00.000Z',
  unixTime: 1768469400,
} as const;
