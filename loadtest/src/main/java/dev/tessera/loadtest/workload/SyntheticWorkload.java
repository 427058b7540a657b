package dev.tessera.loadtest.workload;

import java.util.List;
import java.util.Random;

/**
 * Random prompts of a length drawn from one distribution (in words of a small vocabulary: about one token each for
 * a byte-level BPE) and output lengths from another, generated with {@code ignore_eos} so that each request makes
 * exactly its output length. With images, each request is one user chat message: the images, then the prompt.
 * Seeded: the same seed gives the same requests.
 */
public final class SyntheticWorkload implements Workload {
    private static final String[] WORDS = {"the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with",
        "as", "it", "by", "at", "from", "his", "an", "were", "are", "which", "this", "be", "or", "had", "not", "but",
        "one", "their", "first", "after", "new", "time", "two", "more", "she", "other", "city", "year", "over"};

    private final LengthDistribution inputLength;
    private final LengthDistribution outputLength;
    private final List<ChatImage> images;
    private final Random rng;

    public SyntheticWorkload(LengthDistribution inputLength, LengthDistribution outputLength, long seed) {
        this(inputLength, outputLength, List.of(), seed);
    }

    /** Requests that are chats with {@code images} (none: plain prompts). */
    public SyntheticWorkload(LengthDistribution inputLength, LengthDistribution outputLength, List<ChatImage> images,
                             long seed) {
        this.inputLength = inputLength;
        this.outputLength = outputLength;
        this.images = List.copyOf(images);
        this.rng = new Random(seed);
    }

    @Override
    public LoadRequest next() {
        int words = inputLength.sample(rng);
        StringBuilder prompt = new StringBuilder(words * 5);
        for (int i = 0; i < words; i++) {
            if (i > 0) prompt.append(' ');
            prompt.append(WORDS[rng.nextInt(WORDS.length)]);
        }
        int maxTokens = outputLength.sample(rng);
        if (images.isEmpty()) return new LoadRequest(prompt.toString(), List.of(), maxTokens, true, words);
        return new LoadRequest(null, List.of(new LoadRequest.Message("user", prompt.toString(), images)), maxTokens,
                true, words);
    }
}
