/** Run states a session's next run waits behind; `queued` waits behind another run of the same session. */
export const ACTIVE_RUN_STATES = ['queued', 'running', 'waiting_approval'] as const;
/** The states of a run that is executing or paused on its session (at most one per session). */
export const LIVE_RUN_STATES = ['running', 'waiting_approval'] as const;
