"""Exports the inference-bench models to ONNX for the ONNX Runtime peer (bench/OrtPeer).
The architectures are DeepSharp's zoo models as the bench builds them (ModelZoo defaults: 1x28x28 inputs, 10 classes):
  mlp      Mlp: Linear(784,256)-ReLU-Linear(256,128)-ReLU-Linear(128,10), input [N, 784]
  lenet    LeNet5: conv5x5(6, pad 2)-ReLU-maxpool2-conv5x5(16)-ReLU-maxpool2-flatten-120-ReLU-84-ReLU-10, input [N, 1, 28, 28]
  resnet20 ResNet.ResNet20 with the small-image stem: conv3x3(16)-BN-ReLU, 3 stages x 3 BasicBlocks (16/32/64 ch,
           stride 2 and a 1x1 conv + BN projection where a stage starts), global average pool, fc; input [N, 1, 28, 28]
The batch dim is dynamic. Weights are PyTorch's random initialisation with randomised batch-norm statistics (latency does
not depend on the values). Needs Debian's python3-torch (1.13); torch.onnx.export does not need the onnx package.
Usage: /usr/bin/python3 scripts/export_bench_onnx.py [OUT_DIR]   (default: bench/onnx next to this script's parent)"""
import os, sys, torch, torch.nn as nn

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(cout); self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else None
    def forward(self, x):
        r = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(r + (x if self.downsample is None else self.downsample(x)))

class ResNet20(nn.Module):
    def __init__(self, channels=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False); self.bn1 = nn.BatchNorm2d(16); self.relu = nn.ReLU()
        stages, cin = [], 16
        for s, width in enumerate([16, 32, 64]):
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(cin, width, 2 if b == 0 and s > 0 else 1)); cin = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1); self.fc = nn.Linear(64, classes)
    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

def models():
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return [("mlp", mlp, (784,)), ("lenet", lenet, (1, 28, 28)), ("resnet20", ResNet20(), (1, 28, 28))]

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "onnx")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    for name, model, shape in models():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2); m.running_var.uniform_(0.5, 1.5)
        model.eval()
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(model, torch.randn(1, *shape), path, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, do_constant_folding=True)
        print(f"{path}: {os.path.getsize(path):,} bytes")

if __name__ == "__main__":
    main()
