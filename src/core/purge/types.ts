/** Shapes the purge core shares with its adapters, kept free of adapter imports. */

/** A deployed image reference (the shape of the `InUseLookup` port's `DeployedImage`). */
export interface DeployedImageLike {
  image: string;
  source: string;
}
