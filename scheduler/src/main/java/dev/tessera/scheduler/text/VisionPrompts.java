package dev.tessera.scheduler.text;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageDecoder;
import dev.tessera.engine.image.ImageFormat;
import dev.tessera.engine.vision.MropePositions;
import dev.tessera.engine.vision.QwenImageProcessor;
import dev.tessera.engine.vision.VisionConfig;
import dev.tessera.engine.vision.VisionImage;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobFailure;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * {@link ImagePrompts} for Qwen2-VL: each image part is decoded (PNG, JPEG, RGB8), resized, normalized and patchified
 * as {@code Qwen2VLImageProcessor} does within the request's pixel bounds, and named by a SHA-256 of its decoded pixels
 * and its resized size; each of the template's {@code <|image_pad|>} tokens is expanded into the image's
 * {@code patches / merge²} placeholders; the M-RoPE positions and the prefix-cache keys follow. Thread-safe: meant for
 * the input threads.
 */
public final class VisionPrompts implements ImagePrompts {
    private final VisionConfig config;
    private final QwenImageProcessor processor;
    private final ImageDecoder decoder;
    private final int maxImages;
    private final int budgetPatches;

    /**
     * @param config         the vision tower's configuration (placeholder id, merge size)
     * @param processor      the checkpoint's image pre-processing
     * @param maxImages      the most images one request may carry
     * @param maxImagePixels the most pixels an image may have before resizing (checked on its header)
     * @param budgetPatches  the encoder budget: an image with more patches could never be encoded, and is refused
     */
    public VisionPrompts(VisionConfig config, QwenImageProcessor processor, int maxImages, long maxImagePixels,
                         int budgetPatches) {
        this.config = Objects.requireNonNull(config, "config");
        this.processor = Objects.requireNonNull(processor, "processor");
        if (maxImages < 1) throw new IllegalArgumentException("maxImages must be >= 1, got " + maxImages);
        this.maxImages = maxImages;
        this.decoder = new ImageDecoder(maxImagePixels);
        this.budgetPatches = budgetPatches;
    }

    @Override
    public Expanded expand(int[] tokens, List<Part> images, @Nullable Long minPixels, @Nullable Long maxPixels) {
        if (images.size() > maxImages) {
            throw JobFailure.invalid("messages", images.size() + " images, at most " + maxImages + " per request")
                    .exception();
        }
        long min = bound("min_pixels", minPixels, processor.config().minPixels());
        long max = bound("max_pixels", maxPixels, processor.config().maxPixels());
        if (max < min) {
            throw JobFailure.invalid("max_pixels", "value " + max + " is below min_pixels " + min).exception();
        }
        int imageToken = config.imageTokenId();
        int pads = 0;
        for (int t : tokens) if (t == imageToken) pads++;
        if (pads != images.size()) {
            throw JobFailure.invalid("messages", "the rendered chat has " + pads + " image placeholders for "
                    + images.size() + " images (do not write the placeholder token in text)").exception();
        }
        int merge2 = config.mergeSize() * config.mergeSize();
        List<VisionImage> prepared = new ArrayList<>(images.size());
        int length = tokens.length - pads;
        for (Part part : images) {
            VisionImage im = prepare(part, min, max);
            prepared.add(im);
            length += im.numPatches() / merge2;
        }
        int[] expanded = new int[length];
        int[] keys = new int[length];
        List<PromptImage> out = new ArrayList<>(images.size());
        List<int[]> grids = new ArrayList<>(images.size());
        int o = 0;
        int k = 0;
        for (int t : tokens) {
            if (t != imageToken) {
                expanded[o] = t;
                keys[o++] = t;
                continue;
            }
            VisionImage im = prepared.get(k);
            Part part = images.get(k++);
            String digest = digest(im);
            int n = im.numPatches() / merge2;
            for (int i = 0; i < n; i++) {
                expanded[o + i] = imageToken;
                keys[o + i] = MultimodalPrompt.key(digest, i);
            }
            out.add(new PromptImage(digest, o, n, im, part.field()));
            grids.add(new int[] {im.gridT(), im.gridH(), im.gridW()});
            o += n;
        }
        MropePositions mp = MropePositions.of(expanded, length, imageToken, grids, config.mergeSize());
        return new Expanded(expanded, new MultimodalPrompt(out, mp.positions(), mp.delta(), keys));
    }

    private static long bound(String field, @Nullable Long value, long dflt) {
        if (value == null) return dflt;
        if (value <= 0) throw JobFailure.invalid(field, "must be > 0, got " + Long.toUnsignedString(value))
                .exception();
        return value;
    }

    private VisionImage prepare(Part part, long min, long max) {
        ImageData data = part.image();
        String field = part.field() + ".image";
        if (data.width() < 0 || data.width() > Integer.MAX_VALUE) {
            throw JobFailure.invalid(field + ".width", "value " + Long.toUnsignedString(data.width())
                    + " is out of range").exception();
        }
        if (data.height() < 0 || data.height() > Integer.MAX_VALUE) {
            throw JobFailure.invalid(field + ".height", "value " + Long.toUnsignedString(data.height())
                    + " is out of range").exception();
        }
        ImageFormat format = switch (data.format()) {
            case UNSPECIFIED -> ImageFormat.UNSPECIFIED;
            case PNG -> ImageFormat.PNG;
            case JPEG -> ImageFormat.JPEG;
            case RGB8 -> ImageFormat.RGB8;
        };
        VisionImage im;
        try {
            DecodedImage decoded = decoder.decode(data.data(), format, (int) data.width(), (int) data.height(), field);
            im = processor.prepare(decoded, min, max, field);
        } catch (InvalidArgumentException e) {
            String detail = e.getMessage().startsWith(e.field() + ": ")
                    ? e.getMessage().substring(e.field().length() + 2) : e.getMessage();
            throw JobFailure.invalid(e.field(), detail).exception();
        }
        if (im.numPatches() > budgetPatches) {
            throw JobFailure.invalid(field, im.numPatches() + " patches (" + im.gridH() * config.patchSize() + " x "
                    + im.gridW() * config.patchSize() + " pixels after resizing) exceed the encoder budget of "
                    + budgetPatches + " per step; send a smaller image or lower max_pixels").exception();
        }
        return im;
    }

    /** SHA-256 of the prepared patches and the grid: equal for the same pixels under the same processing. */
    private static String digest(VisionImage im) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        ByteBuffer head = ByteBuffer.allocate(12).putInt(im.gridT()).putInt(im.gridH()).putInt(im.gridW());
        md.update(head.array());
        float[] p = im.patches();
        ByteBuffer buf = ByteBuffer.allocate(4 * 4096);
        for (int i = 0; i < p.length; ) {
            buf.clear();
            int n = Math.min(4096, p.length - i);
            for (int j = 0; j < n; j++) buf.putInt(Float.floatToRawIntBits(p[i + j]));
            md.update(buf.array(), 0, 4 * n);
            i += n;
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
