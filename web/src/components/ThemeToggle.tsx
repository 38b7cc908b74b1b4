import { effectiveTheme, toggleTheme } from '../state/theme';

export function ThemeToggle() {
  const dark = effectiveTheme.value === 'dark';
  return (
    <button type="button" class="icon-button" onClick={toggleTheme} aria-label={dark ? 'Switch to light theme' : 'Switch to dark theme'} title={dark ? 'Light theme' : 'Dark theme'}>
      <span aria-hidden="true">{dark ? '☀' : '☾'}</span>
    </button>
  );
}
