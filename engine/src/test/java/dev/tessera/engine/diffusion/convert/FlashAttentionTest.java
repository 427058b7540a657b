package dev.tessera.engine.diffusion.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the host's L2 cache and ORT's switch are read to tell whether MultiHeadAttention takes its flash path. */
class FlashAttentionTest {
    @Test
    void readsTheLevel2CacheFromASysfsLikeTree(@TempDir Path cache) throws Exception {
        cache(cache, "index0", "1", "32K");
        assertEquals(0, FlashAttention.l2CacheBytes(cache), "no level-2 entry");
        cache(cache, "index2", "2", "512K");
        cache(cache, "index3", "3", "32768K");
        assertEquals(512L << 10, FlashAttention.l2CacheBytes(cache));
        assertEquals(0, FlashAttention.l2CacheBytes(cache.resolve("missing")));
    }

    @Test
    void sizesAndTheSwitchParseAsOnnxRuntimeMeansThem() {
        assertEquals(1L << 20, FlashAttention.parseSize("1M"));
        assertEquals(4096, FlashAttention.parseSize("4096"));
        assertEquals(0, FlashAttention.parseSize("lots"));
        assertTrue(FlashAttention.disabled("1"));
        assertTrue(FlashAttention.disabled("TRUE"));
        assertFalse(FlashAttention.disabled("0"));
        assertFalse(FlashAttention.disabled(null));
    }

    private static void cache(Path root, String index, String level, String size) throws Exception {
        Path d = Files.createDirectories(root.resolve(index));
        Files.writeString(d.resolve("level"), level + "\n");
        Files.writeString(d.resolve("size"), size + "\n");
    }
}
