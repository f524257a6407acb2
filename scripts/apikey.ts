/** `npm run apikey`: the API-key command line, which lives in src/main so the production build ships it. */
import '../src/main/apikey';
