// The oneDNN trial of docs/benchmarks.md (issue 16): the shipped CNN's conv1 → max-pool → conv2 → max-pool
// at batch 256 through oneDNN 2.6, one thread, NCHW and oneDNN's own layouts. Not part of the build:
//   apt-get install libdnnl-dev && g++ -O2 bench/onednn_trial.cpp -o /tmp/onednn_trial -ldnnl && OMP_NUM_THREADS=1 /tmp/onednn_trial
#include <dnnl.hpp>
#include <chrono>
#include <cstdio>
#include <vector>
#include <algorithm>
using namespace dnnl;
using tag = memory::format_tag; using dt = memory::data_type;
static double now(){return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();}
int main(){
  engine eng(engine::kind::cpu,0); stream s(eng);
  const int N=256;
  auto best=[&](auto f){ for(int i=0;i<3;i++) f(); double b=1e9; for(int r=0;r<15;r++){double t0=now(); for(int i=0;i<5;i++) f(); b=std::min(b,(now()-t0)/5);} return b; };
  for (tag layout : {tag::nchw, tag::any}) {
    // conv1 1->10 3x3 28->26, relu post-op; pool 2x2 -> 13; conv2 10->10 3x3 13->11, relu; pool -> 5
    memory::desc x1({N,1,28,28},dt::f32,tag::nchw);
    memory::desc w1({10,1,3,3},dt::f32,tag::any), b1({10},dt::f32,tag::x);
    memory::desc y1({N,10,26,26},dt::f32,layout);
    post_ops po; po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); primitive_attr attr; attr.set_post_ops(po);
    auto c1pd = convolution_forward::primitive_desc({prop_kind::forward_inference, algorithm::convolution_direct, x1, w1, b1, y1, {1,1},{0,0},{0,0}}, attr, eng);
    auto p1pd = pooling_forward::primitive_desc({prop_kind::forward_inference, algorithm::pooling_max, c1pd.dst_desc(), memory::desc({N,10,13,13},dt::f32,layout==tag::nchw?tag::nchw:tag::any), {2,2},{2,2},{0,0},{0,0}}, eng);
    memory::desc w2({10,10,3,3},dt::f32,tag::any);
    auto c2pd = convolution_forward::primitive_desc({prop_kind::forward_inference, algorithm::convolution_direct, p1pd.dst_desc(), w2, b1, memory::desc({N,10,11,11},dt::f32,layout), {1,1},{0,0},{0,0}}, attr, eng);
    auto p2pd = pooling_forward::primitive_desc({prop_kind::forward_inference, algorithm::pooling_max, c2pd.dst_desc(), memory::desc({N,10,5,5},dt::f32,tag::nchw), {2,2},{2,2},{0,0},{0,0}}, eng);
    memory X(x1,eng), W1(c1pd.weights_desc(),eng), B(b1,eng), Y1(c1pd.dst_desc(),eng), P1(p1pd.dst_desc(),eng), W2(c2pd.weights_desc(),eng), Y2(c2pd.dst_desc(),eng), P2(p2pd.dst_desc(),eng);
    memory WS1; // workspace unused in inference
    auto c1=convolution_forward(c1pd), c2=convolution_forward(c2pd); auto p1=pooling_forward(p1pd), p2=pooling_forward(p2pd);
    float* xp=(float*)X.get_data_handle(); for(int i=0;i<N*784;i++) xp[i]=(i%97)/97.f;
    double t1=best([&]{c1.execute(s,{{DNNL_ARG_SRC,X},{DNNL_ARG_WEIGHTS,W1},{DNNL_ARG_BIAS,B},{DNNL_ARG_DST,Y1}}); s.wait();});
    double t2=best([&]{p1.execute(s,{{DNNL_ARG_SRC,Y1},{DNNL_ARG_DST,P1}}); s.wait();});
    double t3=best([&]{c2.execute(s,{{DNNL_ARG_SRC,P1},{DNNL_ARG_WEIGHTS,W2},{DNNL_ARG_BIAS,B},{DNNL_ARG_DST,Y2}}); s.wait();});
    double t4=best([&]{p2.execute(s,{{DNNL_ARG_SRC,Y2},{DNNL_ARG_DST,P2}}); s.wait();});
    printf("oneDNN layout %s: conv1+relu %.0f us (%s), pool1 %.0f us, conv2+relu %.0f us (%s), pool2 %.0f us; total %.0f us per 256 -> %.0f img/s (1 thread)\n",
      layout==tag::nchw?"nchw":"any(blocked)", t1*1e6, c1pd.impl_info_str(), t2*1e6, t3*1e6, c2pd.impl_info_str(), t4*1e6, (t1+t2+t3+t4)*1e6, N/(t1+t2+t3+t4));
  }
}
