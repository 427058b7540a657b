package dev.tessera.gateway.mapping;

import dev.tessera.api.v1.Image;
import dev.tessera.scheduler.core.ImageData;

/** Maps an {@code Image} (any job kind's input image) to the serving core's {@link ImageData}. */
public final class ImageMapper {
    private ImageMapper() {
    }

    public static ImageData toDomain(Image image) {
        ImageData.Format format = switch (image.getFormat()) {
            case IMAGE_FORMAT_PNG -> ImageData.Format.PNG;
            case IMAGE_FORMAT_JPEG -> ImageData.Format.JPEG;
            case IMAGE_FORMAT_RGB8 -> ImageData.Format.RGB8;
            case IMAGE_FORMAT_UNSPECIFIED, UNRECOGNIZED -> ImageData.Format.UNSPECIFIED;
        };
        return new ImageData(image.getData().toByteArray(), format, Integer.toUnsignedLong(image.getWidth()),
                Integer.toUnsignedLong(image.getHeight()));
    }
}
