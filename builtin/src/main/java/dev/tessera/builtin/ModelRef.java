package dev.tessera.builtin;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A model as named on a command line: {@code builtin:NAME} for a built-in model (generated into the cache on first
 * use), or the path of a checkpoint directory.
 *
 * @param ref the text as given
 */
public record ModelRef(String ref) {
    /** Prefix of built-in model names. */
    public static final String BUILTIN_PREFIX = "builtin:";

    public ModelRef {
        Objects.requireNonNull(ref, "ref");
        if (ref.isBlank()) throw new IllegalArgumentException("a model reference must not be blank");
    }

    /** Whether this names a built-in model. */
    public boolean isBuiltin() {
        return ref.startsWith(BUILTIN_PREFIX);
    }

    /**
     * The checkpoint directory: a built-in model is generated under {@code cacheDir} first if it is not there yet.
     *
     * @throws IllegalArgumentException for an unknown built-in name
     */
    public Path resolve(Path cacheDir) {
        return isBuiltin() ? BuiltinModels.materialize(ref.substring(BUILTIN_PREFIX.length()), cacheDir) : Path.of(ref);
    }

    /** The name it is served under: a built-in's name, else the directory's name. */
    public String servedName() {
        if (isBuiltin()) return ref.substring(BUILTIN_PREFIX.length());
        Path fileName = Path.of(ref).toAbsolutePath().normalize().getFileName();
        return fileName == null ? ref : fileName.toString();
    }

    @Override
    public String toString() {
        return ref;
    }
}
