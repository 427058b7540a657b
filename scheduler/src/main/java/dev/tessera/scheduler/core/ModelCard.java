package dev.tessera.scheduler.core;

import java.util.List;
import java.util.Objects;

/**
 * What a client may know of a served model (ListModels).
 *
 * @param name         the name to put in requests
 * @param kind         the jobs it answers
 * @param architecture e.g. {@code LlamaForCausalLM}, {@code DetrForObjectDetection}
 * @param isDefault    whether requests of its kind that name no model get it
 * @param maxModelLen  text: positions for prompt plus output; 0 otherwise
 * @param vocabSize    text: vocabulary size; 0 otherwise
 * @param labels       detection: label names by id; empty otherwise
 * @param takesImages  text: whether chat messages may carry images (a vision-language model)
 * @param promptBytes  text: the bound on a prompt's bytes, which the network edge checks before decoding a prompt;
 *                     {@link PromptBytes#NONE} otherwise
 */
public record ModelCard(String name, ModelKind kind, String architecture, boolean isDefault, int maxModelLen,
                        int vocabSize, List<String> labels, boolean takesImages, PromptBytes promptBytes) {
    public ModelCard {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(promptBytes, "promptBytes");
        labels = List.copyOf(labels);
    }

    /** A card with no bound on prompt bytes. */
    public ModelCard(String name, ModelKind kind, String architecture, boolean isDefault, int maxModelLen,
                     int vocabSize, List<String> labels, boolean takesImages) {
        this(name, kind, architecture, isDefault, maxModelLen, vocabSize, labels, takesImages, PromptBytes.NONE);
    }

    /** A card of a model that takes no images. */
    public ModelCard(String name, ModelKind kind, String architecture, boolean isDefault, int maxModelLen,
                     int vocabSize, List<String> labels) {
        this(name, kind, architecture, isDefault, maxModelLen, vocabSize, labels, false);
    }

    /** The same card, marked as the default of its kind or not. */
    public ModelCard withDefault(boolean d) {
        return new ModelCard(name, kind, architecture, d, maxModelLen, vocabSize, labels, takesImages, promptBytes);
    }
}
