/**
 * id → marker: the vehicle's fields (copied from the SDK's map when they change), mx/my (its
 * position, Mercator 0..1), px/py (where it is drawn now, part-way through a glide), ax/ay,
 * movedAt and glideMs (the glide), ci (colour index).
 */
export const vehicles = new Map();
