package dev.tessera.gateway;

import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.engine.diffusion.DiffusionOptions;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.detect.DetectConfig;
import dev.tessera.scheduler.diffuse.DiffuseConfig;
import dev.tessera.scheduler.text.TextConfig;
import java.util.Objects;

/** One model for {@link TesseraServer} to load and serve, with its engine options and its lane's limits. */
public sealed interface ModelSpec {
    /** A text generation model (a decoder checkpoint). */
    record Text(TextEngineOptions engine, TextConfig lane) implements ModelSpec {
        public Text {
            Objects.requireNonNull(engine, "engine");
            Objects.requireNonNull(lane, "lane");
        }
    }

    /** A diffusers Stable Diffusion pipeline (text to image). */
    record Diffusion(DiffusionOptions engine, DiffuseConfig lane) implements ModelSpec {
        public Diffusion {
            Objects.requireNonNull(engine, "engine");
            Objects.requireNonNull(lane, "lane");
        }
    }

    /** A DETR object detector. */
    record Detector(DetrOptions engine, DetectConfig lane) implements ModelSpec {
        public Detector {
            Objects.requireNonNull(engine, "engine");
            Objects.requireNonNull(lane, "lane");
        }
    }
}
