package dev.tessera.scheduler.text;

import dev.tessera.engine.vision.VisionEncoder;
import dev.tessera.engine.vision.VisionImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * {@link ImageEncoding} over a Qwen-VL vision tower: images are encoded packed with no padding (one attention span
 * per image) and their embeddings kept in an {@link EncoderCache}. The encoder is not owned (its engine is). Loop
 * thread only.
 */
public final class VisionEncoding implements ImageEncoding {
    private final VisionEncoder encoder;
    private final EncoderCache cache;
    private final int budgetPatches;
    private final int hiddenSize;
    private final List<VisionImage> scratch = new ArrayList<>();

    /**
     * @param encoder       the vision tower
     * @param budgetPatches the most patches one step encodes
     * @param cacheBytes    the encoder-output cache's byte budget
     */
    public VisionEncoding(VisionEncoder encoder, int budgetPatches, long cacheBytes) {
        this.encoder = Objects.requireNonNull(encoder, "encoder");
        if (budgetPatches <= 0) throw new IllegalArgumentException("budgetPatches must be > 0");
        this.budgetPatches = budgetPatches;
        this.hiddenSize = encoder.config().embeddingWidth(); // Qwen3-VL: the DeepStack features ride along
        this.cache = new EncoderCache(cacheBytes);
    }

    @Override
    public int budgetPatches() {
        return budgetPatches;
    }

    @Override
    public int hiddenSize() {
        return hiddenSize;
    }

    @Override
    public float @Nullable [] cached(PromptImage image) {
        return cache.get(image.digest());
    }

    @Override
    public float[][] encode(List<PromptImage> images) {
        scratch.clear();
        for (PromptImage im : images) scratch.add(im.pixels());
        float[][] out = encoder.encode(scratch);
        scratch.clear();
        for (int i = 0; i < out.length; i++) cache.put(images.get(i).digest(), out[i]);
        return out;
    }
}
