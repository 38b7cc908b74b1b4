import type { ComponentChildren, JSX } from 'preact';
import { navigate } from '../state/router';

type LinkProps = { href: string; children: ComponentChildren; onNavigate?: () => void } & Omit<JSX.HTMLAttributes<HTMLAnchorElement>, 'onClick'>;

/** An ordinary link (open in new tab works) that navigates inside the app on a plain click. */
export function Link({ href, children, onNavigate, ...rest }: LinkProps) {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
    onNavigate?.();
  };
  return (
    <a {...rest} href={href} onClick={onClick}>
      {children}
    </a>
  );
}
