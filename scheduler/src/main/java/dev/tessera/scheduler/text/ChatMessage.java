package dev.tessera.scheduler.text;

import dev.tessera.scheduler.core.ImageData;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One message of a chat, as the client sent it (not yet validated): a role ({@code system}, {@code user},
 * {@code assistant}, or whatever the model's chat template knows) and its content, in parts.
 *
 * @param role    who speaks
 * @param content the parts in order: text, and images for vision models
 * @param name    the optional participant name, passed to the template as {@code name}
 */
public record ChatMessage(String role, List<Part> content, @Nullable String name) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        content = List.copyOf(Objects.requireNonNull(content, "content"));
    }

    /** A message whose content is one text. */
    public static ChatMessage text(String role, String text) {
        return new ChatMessage(role, List.of(new Part.Text(text)), null);
    }

    /** Whether every part is text. */
    public boolean textOnly() {
        for (Part p : content) {
            if (!(p instanceof Part.Text)) return false;
        }
        return true;
    }

    /** A piece of a message's content. */
    public sealed interface Part {
        /** Text. */
        record Text(String text) implements Part {
            public Text {
                Objects.requireNonNull(text, "text");
            }
        }

        /** An image (vision models only). */
        record Image(ImageData image) implements Part {
            public Image {
                Objects.requireNonNull(image, "image");
            }
        }

        /** A part with neither text nor an image (an unset proto oneof): refused, naming it. */
        record Empty() implements Part {
        }
    }
}
