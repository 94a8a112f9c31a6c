// The component package's entry: serves PrivateRegistry to Pulumi programs in any language
// (`pulumi package add <this folder>`), as a component provider. It declares no resource when
// loaded; the engine asks it to construct a registry for each one a program declares.
//
// Pulumi would serve the exported components by itself; this entry does it explicitly to mark
// the secret inputs and outputs in the schema (plugin/schema.ts), which the analyzer that
// writes the schema from the TypeScript types does not know about. The package's code and
// dependencies are the checkout's (`npm ci` in the repository root).
import { main } from "@pulumi/pulumi/provider";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { PrivateRegistry } from "../components/privateRegistry";
import { markSecrets } from "./schema";

class PrivateRegistryProvider extends ComponentProvider {
    async getSchema(): Promise<string> {
        return markSecrets(await super.getSchema());
    }
}

main(new PrivateRegistryProvider({ name: "private-registry", components: [PrivateRegistry], dirname: __dirname }), process.argv.slice(2));
