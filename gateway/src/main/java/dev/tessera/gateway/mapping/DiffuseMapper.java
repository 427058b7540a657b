package dev.tessera.gateway.mapping;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.DenoisePreview;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.GeneratedImage;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.diffuse.DiffuseRequest;
import org.jspecify.annotations.Nullable;

/**
 * Maps {@code tessera.v1.DiffuseRequest} to the serving core's {@link DiffuseRequest} (unset optional fields stay
 * unset, so the model's defaults apply; values are checked behind the service, which names the proto field), and
 * diffusion events to {@code DiffuseResponse}s. Stateless.
 */
public final class DiffuseMapper {
    private DiffuseMapper() {
    }

    public static DiffuseRequest toDomain(dev.tessera.api.v1.DiffuseRequest r) {
        return new DiffuseRequest(r.getModel(), r.getPrompt(), r.getNegativePrompt(),
                r.hasWidth() ? clamp(r.getWidth()) : null, r.hasHeight() ? clamp(r.getHeight()) : null,
                r.hasSteps() ? clamp(r.getSteps()) : null, r.hasGuidanceScale() ? r.getGuidanceScale() : null,
                sampler(r.getSamplerValue()), r.hasSeed() ? r.getSeed() : null, clamp(r.getPreviewEvery()),
                r.hasNumImages() ? clamp(r.getNumImages()) : null,
                r.hasInitImage() ? ImageMapper.toDomain(r.getInitImage()) : null,
                r.hasStrength() ? r.getStrength() : null,
                r.hasControlImage() ? ImageMapper.toDomain(r.getControlImage()) : null,
                r.hasControlScale() ? r.getControlScale() : null);
    }

    /**
     * The sampler's API name, or null for the default. An unknown enum number passes through as a name the model
     * refuses (INVALID_ARGUMENT on {@code sampler}).
     */
    static @Nullable String sampler(int value) {
        return switch (value) {
            case 0 -> null;
            case 1 -> "euler";
            case 2 -> "euler_a";
            case 3 -> "ddim";
            case 4 -> "dpmpp_2m";
            case 5 -> "lcm";
            default -> "sampler #" + value;
        };
    }

    /** A uint32 read as signed: values past Integer.MAX_VALUE become MAX_VALUE, out of every range. */
    private static int clamp(int unsigned) {
        return unsigned < 0 ? Integer.MAX_VALUE : unsigned;
    }

    /** The response for a preview, an image or a finished event; null for any other event. */
    public static @Nullable DiffuseResponse response(JobEvent e) {
        if (e instanceof JobEvent.Preview p) {
            return DiffuseResponse.newBuilder().setPreview(DenoisePreview.newBuilder().setIndex(p.index())
                    .setStep(p.step()).setTotalSteps(p.totalSteps()).setImage(image(p.image()))).build();
        }
        if (e instanceof JobEvent.Image i) {
            return DiffuseResponse.newBuilder().setImage(GeneratedImage.newBuilder().setIndex(i.index())
                    .setImage(image(i.image())).setSeed(i.seed())).build();
        }
        if (e instanceof JobEvent.Finished f) {
            return DiffuseResponse.newBuilder().setFinished(EventMapper.finished(f)).build();
        }
        return null;
    }

    static Image image(JobEvent.EncodedImage img) {
        return Image.newBuilder().setData(ByteString.copyFrom(img.data()))
                .setFormat(img.mediaType().equals("image/png") ? ImageFormat.IMAGE_FORMAT_PNG
                        : ImageFormat.IMAGE_FORMAT_JPEG)
                .setWidth(img.width()).setHeight(img.height()).build();
    }
}
