package dev.tessera.gateway.mapping;

import dev.tessera.api.v1.DetectRequest;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.detect.DetectFrame;

/** Maps a {@code DetectRequest} to the serving core's frame, field for field; the serving core validates. */
public final class DetectMapper {
    private DetectMapper() {
    }

    public static DetectFrame toDomain(DetectRequest r) {
        ImageData image = r.hasImage() ? ImageMapper.toDomain(r.getImage()) : null;
        return new DetectFrame(r.getModel(), r.getFrameId(), image, r.hasThreshold() ? r.getThreshold() : null,
                r.hasMaxDetections() ? Integer.toUnsignedLong(r.getMaxDetections()) : null, r.getLabelsList());
    }
}
