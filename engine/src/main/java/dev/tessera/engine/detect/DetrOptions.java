package dev.tessera.engine.detect;

import dev.tessera.engine.CacheDirs;
import org.jspecify.annotations.Nullable;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How to load and size a {@link DetrEngine}.
 *
 * @param checkpoint       a Hugging Face {@code DetrForObjectDetection} directory ({@code config.json},
 *                         {@code model.safetensors}, {@code preprocessor_config.json})
 * @param name             the name the model is served under; null means the directory's name
 * @param threads          ONNX Runtime intra-op threads, and attention threads (the caller included)
 * @param cacheDir         where converted graphs are cached
 * @param maxFramesPerStep the most frames in one {@link DetrEngine#detect} call
 * @param maxPixels        the most pixels (width × height) a request image may have before resizing
 */
public record DetrOptions(Path checkpoint, @Nullable String name, int threads, Path cacheDir, int maxFramesPerStep,
                          long maxPixels) {
    /** 16 megapixels: 48 MB of decoded RGB. */
    public static final long DEFAULT_MAX_PIXELS = 16L << 20;

    public DetrOptions {
        Objects.requireNonNull(checkpoint, "checkpoint");
        Objects.requireNonNull(cacheDir, "cacheDir");
        if (name != null && name.isBlank()) throw new IllegalArgumentException("name must not be blank");
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        if (maxFramesPerStep <= 0) {
            throw new IllegalArgumentException("maxFramesPerStep must be > 0, got " + maxFramesPerStep);
        }
        if (maxPixels <= 0) throw new IllegalArgumentException("maxPixels must be > 0, got " + maxPixels);
    }

    /**
     * {@code checkpoint} served under its directory's name, one thread per available processor, the
     * {@linkplain CacheDirs#defaultDir() default cache}, 8 frames per step, {@value #DEFAULT_MAX_PIXELS} pixels.
     */
    public static DetrOptions defaults(Path checkpoint) {
        return new DetrOptions(checkpoint, null, Runtime.getRuntime().availableProcessors(), CacheDirs.defaultDir(), 8,
                DEFAULT_MAX_PIXELS);
    }

    /** The served name: {@link #name} if set, else the checkpoint directory's name. */
    public String servedName() {
        if (name != null) return name;
        Path fileName = checkpoint.toAbsolutePath().normalize().getFileName();
        return fileName == null ? checkpoint.toString() : fileName.toString();
    }

    public DetrOptions withCheckpoint(Path dir) {
        return new DetrOptions(dir, name, threads, cacheDir, maxFramesPerStep, maxPixels);
    }

    public DetrOptions withName(@Nullable String n) {
        return new DetrOptions(checkpoint, n, threads, cacheDir, maxFramesPerStep, maxPixels);
    }

    public DetrOptions withThreads(int n) {
        return new DetrOptions(checkpoint, name, n, cacheDir, maxFramesPerStep, maxPixels);
    }

    public DetrOptions withCacheDir(Path dir) {
        return new DetrOptions(checkpoint, name, threads, dir, maxFramesPerStep, maxPixels);
    }

    public DetrOptions withMaxFramesPerStep(int n) {
        return new DetrOptions(checkpoint, name, threads, cacheDir, n, maxPixels);
    }

    public DetrOptions withMaxPixels(long n) {
        return new DetrOptions(checkpoint, name, threads, cacheDir, maxFramesPerStep, n);
    }
}
