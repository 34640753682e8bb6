// Regenerates schemas/run-manifest.schema.json from the zod schema (run after `npm run build`).
// src/run-manifest.test.ts fails when the shipped file and the zod schema drift apart.
import { writeFileSync } from "node:fs";
import { runManifestJsonSchema } from "../dist/run/run-manifest-schema.js";

writeFileSync(new URL("../schemas/run-manifest.schema.json", import.meta.url), `${JSON.stringify(runManifestJsonSchema(), null, 2)}\n`);
