import { render } from 'preact';
import { App } from './components/App';
import './state/theme';
import './styles.css';

render(<App />, document.getElementById('app')!);
