import { computed, effect, signal } from '@preact/signals';

export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'tokendance.theme';
const dark = window.matchMedia('(prefers-color-scheme: dark)');

export const themeChoice = signal<ThemeChoice>((localStorage.getItem(KEY) as ThemeChoice | null) ?? 'system');
const systemDark = signal(dark.matches);
dark.addEventListener('change', () => (systemDark.value = dark.matches));

export const effectiveTheme = computed(() => (themeChoice.value === 'system' ? (systemDark.value ? 'dark' : 'light') : themeChoice.value));

effect(() => {
  document.documentElement.dataset.theme = effectiveTheme.value;
  document.querySelector('meta[name="color-scheme"]')?.setAttribute('content', effectiveTheme.value);
});

/** Flips between light and dark; the choice is remembered, and "system" is the default until then. */
export function toggleTheme(): void {
  themeChoice.value = effectiveTheme.value === 'dark' ? 'light' : 'dark';
  localStorage.setItem(KEY, themeChoice.value);
}
