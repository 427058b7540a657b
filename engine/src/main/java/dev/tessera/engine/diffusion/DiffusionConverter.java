package dev.tessera.engine.diffusion;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.DiffusersLayout.Component;
import dev.tessera.engine.diffusion.clip.ClipTextConfig;
import dev.tessera.engine.diffusion.clip.ClipTextGraph;
import dev.tessera.engine.diffusion.convert.ComponentGraph;
import dev.tessera.engine.diffusion.unet.ControlNetConfig;
import dev.tessera.engine.diffusion.unet.ControlNetGraph;
import dev.tessera.engine.diffusion.unet.UNetConfig;
import dev.tessera.engine.diffusion.unet.UNetGraph;
import dev.tessera.engine.diffusion.vae.VaeConfig;
import dev.tessera.engine.diffusion.vae.VaeGraphs;
import dev.tessera.engine.onnx.GraphCache;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Converts a pipeline's text encoder, UNet and VAE (decoder and encoder), and its ControlNet if it has one, into
 * graphs cached under {@code cacheDir/graphs/sd-<key>/}: {@code text_encoder.onnx}, {@code unet.onnx},
 * {@code vae_decoder.onnx}, {@code vae_encoder.onnx} and {@code controlnet.onnx}, each with its {@code .bin} weights.
 * With a ControlNet the UNet graph takes its residuals ({@link UNetGraph#writeWithResiduals}; rows without
 * ControlNet pass zeros), so the UNet's weights are held once. The key hashes the converter version,
 * {@code model_index.json}, every component's config, and each component's safetensors fingerprint (names, sizes,
 * modification times, headers), as for the other converters. Configs are read and every tensor checked before the
 * graphs are written, so a bad checkpoint fails here naming the file and tensor.
 */
public final class DiffusionConverter {
    private static final Logger logger = LoggerFactory.getLogger(DiffusionConverter.class);

    /** The converted graphs; {@code controlNet} null without one. */
    public record Converted(Path dir, Path textEncoder, Path unet, Path vaeDecoder, Path vaeEncoder,
                            @Nullable Path controlNet, boolean reused) {
    }

    private DiffusionConverter() {
    }

    /**
     * @param controlNetDir the ControlNet's directory and {@code controlNet} its config, or both null
     */
    public static Converted convert(DiffusersLayout layout, ClipTextConfig clip, UNetConfig unet, VaeConfig vae,
                                    @Nullable Path controlNetDir, @Nullable ControlNetConfig controlNet,
                                    Path cacheDir) {
        long start = System.nanoTime();
        GraphCache.Entry e = GraphCache.getOrWrite(cacheDir, key(layout, controlNetDir), out -> {
            try (Checkpoint te = Checkpoint.open(layout.folder(Component.TEXT_ENCODER))) {
                ComponentGraph.write(te, out, ClipTextGraph.NAME, l -> ClipTextGraph.write(l, clip));
            }
            try (Checkpoint u = Checkpoint.open(layout.folder(Component.UNET))) {
                ComponentGraph.write(u, out, UNetGraph.NAME, controlNet == null ? l -> UNetGraph.write(l, unet)
                        : l -> UNetGraph.writeWithResiduals(l, unet));
            }
            try (Checkpoint v = Checkpoint.open(layout.folder(Component.VAE))) {
                ComponentGraph.write(v, out, VaeGraphs.DECODER, l -> VaeGraphs.writeDecoder(l, vae));
                ComponentGraph.write(v, out, VaeGraphs.ENCODER, l -> VaeGraphs.writeEncoder(l, vae));
            }
            if (controlNet != null && controlNetDir != null) {
                try (Checkpoint cn = Checkpoint.open(controlNetDir)) {
                    ComponentGraph.write(cn, out, ControlNetGraph.NAME, l -> ControlNetGraph.write(l, controlNet));
                }
            }
        });
        if (e.reused()) {
            logger.info("reusing converted graphs in {}", e.dir());
        } else {
            logger.info("converted diffusion pipeline {}{} into {} ({} ms)", layout.dir(),
                    controlNetDir == null ? "" : " with ControlNet " + controlNetDir, e.dir(),
                    (System.nanoTime() - start) / 1_000_000);
        }
        Path d = e.dir();
        return new Converted(d, d.resolve(ClipTextGraph.NAME + ".onnx"), d.resolve(UNetGraph.NAME + ".onnx"),
                d.resolve(VaeGraphs.DECODER + ".onnx"), d.resolve(VaeGraphs.ENCODER + ".onnx"),
                controlNet == null ? null : d.resolve(ControlNetGraph.NAME + ".onnx"), e.reused());
    }

    static String key(DiffusersLayout layout, @Nullable Path controlNetDir) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(ComponentGraph.VERSION.getBytes(StandardCharsets.UTF_8));
            d.update(read(layout.dir().resolve(DiffusersLayout.INDEX)));
            for (Component c : Component.values()) {
                if (c != Component.CONTROLNET) d.update(read(layout.configFile(c)));
            }
            for (Component c : new Component[] {Component.TEXT_ENCODER, Component.UNET, Component.VAE}) {
                try (Checkpoint ck = Checkpoint.open(layout.folder(c))) {
                    ck.fingerprint(d);
                }
            }
            if (controlNetDir != null) {
                d.update("controlnet".getBytes(StandardCharsets.UTF_8));
                d.update(read(controlNetDir.resolve("config.json")));
                try (Checkpoint ck = Checkpoint.open(controlNetDir)) {
                    ck.fingerprint(d);
                }
            }
            return "sd-" + HexFormat.of().formatHex(d.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + e.getMessage(), e);
        }
    }
}
