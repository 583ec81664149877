/// Every layer type Borderline knows out of the box, in registration order.
let builtinLayerTypes: [any ConfigurableLayer.Type] = [
    Dense.self,
]
