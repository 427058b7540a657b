package dev.tessera.scheduler.diffuse;

import dev.tessera.scheduler.core.ImageData;
import org.jspecify.annotations.Nullable;

import java.util.Objects;

/**
 * A text-to-image request as the edge hands it over, not yet checked. Unset optional fields are null; the model's
 * defaults apply. Field names follow {@code tessera.v1.DiffuseRequest}, which error messages name.
 *
 * @param sampler      a {@code SamplerKind} API name ({@code euler}, {@code euler_a}, {@code ddim},
 *                     {@code dpmpp_2m}, {@code dpmpp_2m_karras}, {@code lcm}), or null for the default
 * @param initImage    image-to-image's starting image ({@code init_image}), or null for text-to-image
 * @param controlImage the ControlNet's conditioning image ({@code control_image}), or null for no ControlNet
 * @param controlScale the ControlNet's conditioning scale ({@code control_scale}), or null for 1
 */
public record DiffuseRequest(String model, String prompt, String negativePrompt, @Nullable Integer width,
                             @Nullable Integer height, @Nullable Integer steps, @Nullable Float guidanceScale,
                             @Nullable String sampler, @Nullable Long seed, int previewEvery,
                             @Nullable Integer numImages, @Nullable ImageData initImage, @Nullable Float strength,
                             @Nullable ImageData controlImage, @Nullable Float controlScale) {
    public DiffuseRequest {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(negativePrompt, "negativePrompt");
    }

    /** A plain text-to-image request with every option at its default. */
    public static DiffuseRequest of(String prompt) {
        return new DiffuseRequest("", prompt, "", null, null, null, null, null, null, 0, null, null, null, null, null);
    }
}
