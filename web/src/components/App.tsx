import { currentUser } from '../state/auth';
import { navigate, route } from '../state/router';
import { AuthPage } from './AuthPage';
import { Shell } from './Shell';

export function App() {
  const page = route.value.page;
  if (!currentUser.value) {
    if (page !== 'sign-in' && page !== 'sign-up') {
      queueMicrotask(() => navigate('/sign-in', { replace: true }));
      return null;
    }
    return <AuthPage mode={page} />;
  }
  if (page === 'sign-in' || page === 'sign-up') {
    queueMicrotask(() => navigate('/', { replace: true }));
    return null;
  }
  return <Shell />;
}
