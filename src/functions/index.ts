/**
 * The Functions app's entry point (package.json `main`): importing a module registers its functions.
 * Bundled into one file so the app holds a single copy of @azure/functions and durable-functions.
 */
import { setGateServicesProvider } from '../orchestrations/services';
import { getRuntime } from '../runtime';
import './onImagePushed';
import './rescan';
import './verdicts';
import './alertQueries';
import './rotateTokens';
import './nightlyPurge';
import '../orchestrations/register';

// Activities may run on a worker that has not run a trigger yet: build the runtime on first use.
setGateServicesProvider(() => getRuntime().services);
