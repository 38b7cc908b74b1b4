const LABELS: Record<string, string> = {
  created: 'New',
  running: 'Running',
  waiting_approval: 'Needs approval',
  completed: 'Done',
  error: 'Error',
  failed: 'Failed',
  cancelled: 'Stopped',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge badge-${status}`} title={`Status: ${LABELS[status] ?? status}`}>
      {LABELS[status] ?? status}
    </span>
  );
}
