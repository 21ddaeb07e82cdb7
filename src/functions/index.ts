/**
 * The Functions app's entry point (package.json `main`): importing a module registers its functions.
 * Bundled into one file so the app holds a single copy of @azure/functions and durable-functions.
 */
import './onImagePushed';
import '../orchestrations/imageGate';
import '../orchestrations/activities';
