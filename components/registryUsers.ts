// RegistryUsers: the registry's users as bcrypt lines in nginx's htpasswd file, plus per-user
// access rules (pull-only users get 403 on writes), installed as one unit. Passwords come
// from secret config or are generated; the file changes only when a password does. A
// password change replaces no container.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Credential, renderAccessRules, renderHtpasswd } from "../configs/htpasswd";
import { renderUsersInstall } from "../configs/install";
import { passwordProblem } from "../configs/secret";
import { Settings } from "../configs/settings";
import { containerScript } from "./containerScript";
import { secretOutput } from "./secretOutput";

export interface RegistryUsersArgs {
    settings: Pick<Settings, "users" | "bcryptCost" | "dockerHost" | "dockerTls">;
    /** Name of the running nginx container. */
    nginxContainer: pulumi.Input<string>;
    /** Its id: a new nginx container gets the users again (its auth volume may be new). */
    nginxId: pulumi.Input<string>;
    /** Every user's password, in settings.users' order, when several hosts share them; else made here (userPasswords). */
    passwords?: pulumi.Output<string>[];
}

/** Each user's password, in order: the one configured, or a generated one kept in the state. */
export function userPasswords(name: string, users: Settings["users"], parent: pulumi.Resource): pulumi.Output<string>[] {
    return users.map((u) =>
        u.password
            ? secretOutput(u.password, `users.${u.name}.password`, passwordProblem)
            : new random.RandomPassword(`${name}-${u.name}-password`, { length: 32, special: false }, { parent }).result,
    );
}

export class RegistryUsers extends pulumi.ComponentResource {
    /** Every user's password, by user name (secret). */
    public readonly passwords: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RegistryUsersArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Formerly `Htpasswd`: the alias keeps existing stacks' users (and their children) in place.
        super(
            "registry:index:RegistryUsers",
            name,
            {},
            { ...opts, aliases: [...(opts.aliases ?? []), { type: "registry:index:Htpasswd" }] },
        );
        const settings = args.settings;

        // Per-stack key for the deterministic bcrypt salts, secret in the state. A RandomPassword,
        // not RandomBytes: RandomBytes uses its value as the resource id, which state keeps in clear.
        const saltKey = new random.RandomPassword(`${name}-salt-key`, { length: 64, special: false }, { parent: this });

        const passwords = args.passwords ?? userPasswords(name, settings.users, this);

        const users = pulumi
            .all(passwords)
            .apply((pws) => settings.users.map((u, i): Credential => ({ name: u.name, access: u.access, password: pws[i] })));

        // The htpasswd file and the access rules go live together, with one reload.
        const script = pulumi.secret(
            pulumi
                .all([users, saltKey.result])
                .apply(([list, key]) =>
                    renderUsersInstall(renderHtpasswd(list, key, settings.bcryptCost), (file) => renderAccessRules(list, file)),
                ),
        );

        const install = containerScript(
            `${name}-install`,
            { docker: settings, container: args.nginxContainer, script, triggers: [args.nginxId] },
            { parent: this },
        );

        // Handed out only once nginx has them: a consumer never gets a password that fails.
        this.passwords = pulumi.secret(
            pulumi.all([users, install.stdout]).apply(([list]) => Object.fromEntries(list.map((u) => [u.name, u.password]))),
        );

        this.registerOutputs({ passwords: this.passwords });
    }
}
