/**
 * Diffusion jobs: step-level continuous batching of denoising jobs. {@link dev.tessera.scheduler.diffuse.DiffuseModel}
 * checks and prepares requests on the input threads; its {@link dev.tessera.scheduler.diffuse.DiffuseLane} builds one
 * UNet call per step from the rows of every running job of one latent shape (conditional and unconditional rows
 * under classifier-free guidance, each row with its own timestep and text embedding), then applies each job's own
 * sampler step. Previews and images are encoded on the output threads.
 */
@NullMarked
package dev.tessera.scheduler.diffuse;

import org.jspecify.annotations.NullMarked;
