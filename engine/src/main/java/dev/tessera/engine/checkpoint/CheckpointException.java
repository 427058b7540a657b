package dev.tessera.engine.checkpoint;

import org.jspecify.annotations.Nullable;

import java.nio.file.Path;

/**
 * A checkpoint directory cannot be served: a file is missing or corrupt, a tensor is missing or has the wrong shape,
 * or the configuration asks for something unsupported. Thrown at load time; the message names the file and, where
 * one is involved, the tensor.
 */
public final class CheckpointException extends RuntimeException {
    private final @Nullable Path file;
    private final @Nullable String tensor;

    public CheckpointException(@Nullable Path file, @Nullable String tensor, String message) {
        this(file, tensor, message, null);
    }

    public CheckpointException(@Nullable Path file, @Nullable String tensor, String message,
                               @Nullable Throwable cause) {
        super(describe(file, tensor, message), cause);
        this.file = file;
        this.tensor = tensor;
    }

    public @Nullable Path file() {
        return file;
    }

    public @Nullable String tensor() {
        return tensor;
    }

    private static String describe(@Nullable Path file, @Nullable String tensor, String message) {
        StringBuilder sb = new StringBuilder();
        if (file != null) sb.append(file);
        if (tensor != null) sb.append(sb.length() > 0 ? ": tensor " : "tensor ").append(tensor);
        if (sb.length() > 0) sb.append(": ");
        return sb.append(message).toString();
    }
}
