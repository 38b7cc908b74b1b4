import { useSignal } from '@preact/signals';
import { downloadArtifact } from '../api/endpoints';
import { messageOf } from '../api/client';
import type { Artifact } from '../api/types';

const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

/** Files the agent wrote. Downloads go through fetch, since they need the bearer token. */
export function ArtifactsPanel({ artifacts }: { artifacts: Artifact[] }) {
  const error = useSignal<string | null>(null);
  const download = async (event: MouseEvent, artifact: Artifact) => {
    event.preventDefault();
    error.value = null;
    try {
      await downloadArtifact(artifact);
    } catch (failure) {
      error.value = messageOf(failure);
    }
  };
  return (
    <section class="panel-section" aria-labelledby="artifacts-title">
      <h2 id="artifacts-title" class="panel-title">
        Files
      </h2>
      {artifacts.length === 0 && <p class="muted">No files yet.</p>}
      <ul class="artifacts">
        {artifacts.map((artifact) => (
          <li key={artifact.id}>
            <a href={artifact.download_url} download={artifact.name} onClick={(event) => void download(event, artifact)}>
              {artifact.path}
            </a>{' '}
            <span class="muted">
              {size(artifact.size)} · {artifact.mime_type}
            </span>
          </li>
        ))}
      </ul>
      {error.value && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
    </section>
  );
}
