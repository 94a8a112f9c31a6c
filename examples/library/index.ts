// The registry as a component of your own program: typed args in the shape of the stack
// config, defaults applied by the component (see PrivateRegistryArgs). Here: a production
// registry (Let's Encrypt, the local Docker socket; `dockerHost: "ssh://deploy@build-host"`
// for a remote one), a push user whose password this program makes, and a pull-only user
// whose password the component generates, with a weekly garbage collection.
import * as random from "@pulumi/random";
import { PrivateRegistry } from "../../components/privateRegistry";

const ciPassword = new random.RandomPassword("ci-password", { length: 40, special: false });

const registry = new PrivateRegistry("registry", {
    domain: "registry.example.com",
    acmeEmail: "ops@example.com",
    users: {
        ci: { access: "push", password: ciPassword.result },
        reader: { access: "pull" },
    },
    gcIntervalHours: 168,
});

export const url = registry.url;
export const host = registry.host;
export const passwords = registry.passwords;
