package dev.tessera.scheduler.text;

import java.util.List;
import java.util.Objects;

/**
 * What a prompt with images carries beyond its token ids: its images (in prompt order), its multimodal rotary
 * positions and rope delta (Qwen2-VL's M-RoPE), and its prefix-cache keys.
 *
 * <p>The keys equal the token ids except at image placeholders, where each holds a value drawn from the image's
 * digest and the placeholder's offset (negative, so never a real token id). A KV block's prefix hash is computed over
 * the keys, so two prompts with the same text and different images never share the blocks that hold image tokens
 * (nor any block after them), while the same image in another request reuses them.
 *
 * @param images    the images, in prompt order
 * @param positions axis-major {@code [3][promptLen]} rotary positions
 * @param ropeDelta added to the index of every token past the prompt
 * @param keys      prefix-cache keys of the prompt tokens
 */
public record MultimodalPrompt(List<PromptImage> images, int[] positions, int ropeDelta, int[] keys) {
    public MultimodalPrompt {
        images = List.copyOf(Objects.requireNonNull(images, "images"));
        Objects.requireNonNull(positions, "positions");
        Objects.requireNonNull(keys, "keys");
        if (positions.length != 3 * keys.length) throw new IllegalArgumentException("positions are not [3][length]");
    }

    /** Prompt tokens covered. */
    public int length() {
        return keys.length;
    }

    /** The prefix-cache key of placeholder {@code offset} of an image with {@code digest} (always negative). */
    public static int key(String digest, int offset) {
        long h = 0x9E3779B97F4A7C15L;
        for (int i = 0; i < digest.length(); i++) h = (h ^ digest.charAt(i)) * 0x100000001B3L;
        h ^= offset * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 33;
        return (int) h | Integer.MIN_VALUE;
    }
}
