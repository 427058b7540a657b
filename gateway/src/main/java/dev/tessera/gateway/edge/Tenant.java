package dev.tessera.gateway.edge;

import java.util.Objects;

/**
 * A client of the server, known by its API key.
 *
 * @param name the tenant's name: what logs and metrics call it (never the key)
 */
public record Tenant(String name) {
    public Tenant {
        Objects.requireNonNull(name, "name");
        if (name.isBlank() || !name.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("a tenant name is 1 to 64 of [A-Za-z0-9_.-], got '" + name + "'");
        }
    }
}
