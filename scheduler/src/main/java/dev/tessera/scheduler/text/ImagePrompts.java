package dev.tessera.scheduler.text;

import dev.tessera.scheduler.core.ImageData;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The input side of a vision-language model, for {@link TextInput}: decodes and prepares a chat's images and expands
 * their placeholders in the tokenized prompt. Runs on the input threads; thread-safe. Implemented by
 * {@link VisionPrompts}.
 */
public interface ImagePrompts {
    /** One image part of a chat and the field it came from ({@code messages[i].content[j]}). */
    record Part(ImageData image, String field) {
    }

    /**
     * The prompt with each image's single placeholder token expanded into its embedding count, and its images.
     *
     * @param tokens    the rendered and tokenized chat: one placeholder token per image
     * @param images    the chat's image parts, in order
     * @param minPixels the request's lower pixel bound, or null for the model's
     * @param maxPixels the request's upper pixel bound, or null for the model's
     * @return the expanded prompt ({@link Expanded#tokens()}) and what it carries
     * @throws dev.tessera.scheduler.core.JobException INVALID_ARGUMENT naming the field (a corrupt image, too many
     *                                                 images, too many patches for the encoder budget)
     */
    Expanded expand(int[] tokens, List<Part> images, @Nullable Long minPixels, @Nullable Long maxPixels);

    /** An expanded prompt. */
    record Expanded(int[] tokens, MultimodalPrompt prompt) {
    }
}
