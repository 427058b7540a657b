package dev.tessera.scheduler.text;

import dev.tessera.engine.vision.VisionImage;
import java.util.Objects;

/**
 * One image of a prompt, prepared on the input threads: its pixels in the vision tower's patch order, where its
 * placeholder tokens sit in the prompt, and the digest that names it in the encoder-output cache and in the prefix
 * cache's keys.
 *
 * @param digest hex SHA-256 of its prepared patches and grid: the same pixels under the same processing
 * @param start  index in the prompt of its first placeholder token
 * @param tokens placeholder tokens (= embeddings): patches / merge²
 * @param pixels its patches; the vision tower's input
 * @param field  the request field it came from ({@code messages[i].content[j]}), for errors
 */
public record PromptImage(String digest, int start, int tokens, VisionImage pixels, String field) {
    public PromptImage {
        Objects.requireNonNull(digest, "digest");
        Objects.requireNonNull(pixels, "pixels");
        Objects.requireNonNull(field, "field");
    }

    /** One past its last placeholder token. */
    public int end() {
        return start + tokens;
    }

    /** Vision tower rows it needs: its patches. */
    public int patches() {
        return pixels.numPatches();
    }
}
