package dev.tessera.engine.diffusion.convert;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Whether ONNX Runtime's CPU {@code MultiHeadAttention} ({@link Layers#attention} without a mask) takes its
 * FlashAttention path on this host, or falls back to materialising the scores.
 *
 * <p>ONNX Runtime 1.24 ({@code contrib_ops/cpu/bert/multihead_attention.cc}) takes the flash path for fp32 with no
 * mask, bias, past or present outputs when {@code Env::GetL2CacheSize()} is positive (on Linux glibc's
 * {@code sysconf(_SC_LEVEL2_CACHE_SIZE)}) and the environment variable {@code ORT_DISABLE_FLASH_ATTENTION} is not
 * set true. Java cannot call {@code sysconf}; the kernel's own cache description in
 * {@code /sys/devices/system/cpu/cpu0/cache} stands for it. Without one (another OS, a sysfs that hides it) the
 * answer is no: a memory bound built on it then counts the materialised scores, which is safe.
 */
public final class FlashAttention {
    private static final String DISABLE = "ORT_DISABLE_FLASH_ATTENTION";

    private FlashAttention() {
    }

    /** Whether the flash path applies here (read once per call; cheap). */
    public static boolean available() {
        return !disabled(System.getenv(DISABLE)) && l2CacheBytes(Path.of("/sys/devices/system/cpu/cpu0/cache")) > 0;
    }

    /** ONNX Runtime reads the variable as a bool: {@code 1} or {@code true} disable. */
    static boolean disabled(String value) {
        if (value == null) return false;
        String v = value.trim().toLowerCase(Locale.ROOT);
        return v.equals("1") || v.equals("true");
    }

    /** The level-2 cache size listed under {@code cacheDir} ({@code index*}/{@code level}, {@code size}), or 0. */
    static long l2CacheBytes(Path cacheDir) {
        if (!Files.isDirectory(cacheDir)) return 0;
        try (Stream<Path> indexes = Files.list(cacheDir)) {
            for (Path index : (Iterable<Path>) indexes::iterator) {
                Path level = index.resolve("level");
                Path size = index.resolve("size");
                if (!Files.isReadable(level) || !Files.isReadable(size)) continue;
                if (!Files.readString(level).trim().equals("2")) continue;
                return parseSize(Files.readString(size).trim());
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /** {@code 512K}, {@code 1M} or a byte count; 0 if unreadable. */
    static long parseSize(String s) {
        if (s.isEmpty()) return 0;
        char unit = Character.toUpperCase(s.charAt(s.length() - 1));
        long scale = unit == 'K' ? 1L << 10 : unit == 'M' ? 1L << 20 : unit == 'G' ? 1L << 30 : 1;
        String digits = scale == 1 ? s : s.substring(0, s.length() - 1);
        try {
            return Long.parseLong(digits) * scale;
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
