// A secret of the settings as a secret Output: text known when the program runs (already
// checked by the parser), or a program's Input, checked once it resolves. Either way it stays a
// secret in the state and in every resource that reads it.
import * as pulumi from "@pulumi/pulumi";
import { Secret, SecretValue } from "../settings/types";

/** `field` names it in an error; `problemOf` says what is wrong with a value, if anything. */
export function secretOutput(value: SecretValue, field: string, problemOf: (text: string) => string | undefined): pulumi.Output<string> {
    if (value instanceof Secret) return pulumi.secret(value.reveal());
    return pulumi.secret(
        pulumi.output(value.input as pulumi.Input<string>).apply((text) => {
            const wrong = typeof text === "string" ? problemOf(text) : "expected a string";
            if (wrong) throw new Error(`${field}: ${wrong}`);
            return text;
        }),
    );
}
