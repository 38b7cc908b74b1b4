import type { StoredImage } from './conversation.js';

/**
 * `runs.input`: what a run was started with besides its prompt text, as JSON. It carries the
 * chat message's images from the route to the moment the user message is saved, which for a
 * queued run may be in another process after a restart.
 */
interface RunInput {
  images?: StoredImage[];
}

export const runInputJson = (images: StoredImage[]): string | null => (images.length > 0 ? JSON.stringify({ images } satisfies RunInput) : null);

export function imagesOfRunInput(input: string | null): StoredImage[] {
  if (!input) return [];
  try {
    const parsed = JSON.parse(input) as RunInput;
    return Array.isArray(parsed.images) ? parsed.images : [];
  } catch {
    return [];
  }
}
