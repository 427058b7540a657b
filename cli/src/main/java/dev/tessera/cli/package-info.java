/**
 * The command line: serve, generate (a streaming client) and bench.
 */
@NullMarked
package dev.tessera.cli;

import org.jspecify.annotations.NullMarked;
