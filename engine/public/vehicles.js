/** id → vehicle: the server's view fields plus mx/my (Mercator 0..1) and ci (colour index). */
export const vehicles = new Map();
