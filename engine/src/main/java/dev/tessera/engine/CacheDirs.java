package dev.tessera.engine;

import java.nio.file.Path;

/** Where converted graphs (and, for the CLI, generated built-in models) are cached by default. */
public final class CacheDirs {
    private CacheDirs() {
    }

    /** {@code $TESSERA_HOME} if set, else {@code ~/.cache/tessera}. */
    public static Path defaultDir() {
        String home = System.getenv("TESSERA_HOME");
        return home != null && !home.isBlank() ? Path.of(home)
                : Path.of(System.getProperty("user.home"), ".cache", "tessera");
    }
}
